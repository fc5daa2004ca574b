-- delete_dead: deletes a dead job for good.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] dead zset       <prefix>dead
-- ARGV[1] key prefix
-- ARGV[2] job id
-- Returns 1 when deleted, 0 when no dead job has this id.
local prefix, id = ARGV[1], ARGV[2]

local job = redis.call('HMGET', KEYS[1], 'state', 'kind')
if job[1] ~= 'dead' then
  return 0
end

redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', prefix .. 'kind:' .. job[2] .. ':dead', id)
redis.call('DEL', KEYS[1])
return 1

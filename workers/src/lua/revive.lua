-- revive: makes a dead job due now, with its attempts reset to 0.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled
-- KEYS[3] dead zset       <prefix>dead
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] now, unix ms
-- Returns 1 when revived, 0 when no dead job has this id.
local prefix, id, now = ARGV[1], ARGV[2], ARGV[3]

local job = redis.call('HMGET', KEYS[1], 'state', 'kind')
if job[1] ~= 'dead' then
  return 0
end
local kind = job[2]

redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':dead', id)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', prefix .. 'kind:' .. kind .. ':scheduled', now, id)
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'attempts', 0, 'run_at', now)
redis.call('HDEL', KEYS[1], 'died_at')
return 1

-- ack: the job is done; forget it.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled
-- KEYS[3] inflight zset   <prefix>inflight
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] lease token
-- Returns 1 when acked, 0 when the lease is lost.
local prefix, id, token = ARGV[1], ARGV[2], ARGV[3]

local job = redis.call('HMGET', KEYS[1], 'lease_token', 'kind')
if job[1] ~= token then
  return 0
end
local kind = job[2]

redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':scheduled', id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':inflight', id)
redis.call('DEL', KEYS[1])
return 1

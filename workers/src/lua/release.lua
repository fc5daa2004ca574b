-- release: gives a leased job back, due when it was due before the claim,
-- without counting the attempt.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled
-- KEYS[3] inflight zset   <prefix>inflight
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] lease token
-- Returns 1 when released, 0 when the lease is lost.
local prefix, id, token = ARGV[1], ARGV[2], ARGV[3]

local job = redis.call('HMGET', KEYS[1], 'lease_token', 'kind', 'run_at', 'attempts')
if job[1] ~= token then
  return 0
end
local kind, due = job[2], job[3]
local attempts = math.max((tonumber(job[4]) or 1) - 1, 0)

redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':inflight', id)
redis.call('ZADD', KEYS[2], due, id)
redis.call('ZADD', prefix .. 'kind:' .. kind .. ':scheduled', due, id)
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'attempts', attempts)
redis.call('HDEL', KEYS[1], 'lease_token')
return 1

-- retry: schedules another attempt, keeping the attempt count.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled
-- KEYS[3] inflight zset   <prefix>inflight
-- KEYS[4] retries hash    <prefix>retries     (kind -> retries scheduled)
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] lease token
-- ARGV[4] next due time, unix ms
-- ARGV[5] error of this attempt
-- Returns 1 when scheduled, 0 when the lease is lost.
local prefix, id, token, at, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local job = redis.call('HMGET', KEYS[1], 'lease_token', 'kind')
if job[1] ~= token then
  return 0
end
local kind = job[2]

redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':inflight', id)
redis.call('ZADD', KEYS[2], at, id)
redis.call('ZADD', prefix .. 'kind:' .. kind .. ':scheduled', at, id)
redis.call('HSET', KEYS[1], 'state', 'scheduled', 'run_at', at, 'last_error', err)
redis.call('HDEL', KEYS[1], 'lease_token')
redis.call('HINCRBY', KEYS[4], kind, 1)
return 1

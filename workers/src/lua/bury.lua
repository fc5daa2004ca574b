-- bury: moves a job to the dead letters, keeping payload, attempts and error.
-- KEYS[1] job hash        <prefix>job:<id>
-- KEYS[2] scheduled zset  <prefix>scheduled
-- KEYS[3] inflight zset   <prefix>inflight
-- KEYS[4] dead zset       <prefix>dead        (score = died unix ms)
-- ARGV[1] key prefix
-- ARGV[2] job id
-- ARGV[3] lease token
-- ARGV[4] error
-- ARGV[5] now, unix ms
-- Returns 1 when buried, 0 when the lease is lost.
local prefix, id, token, err, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local job = redis.call('HMGET', KEYS[1], 'lease_token', 'kind')
if job[1] ~= token then
  return 0
end
local kind = job[2]

redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':scheduled', id)
redis.call('ZREM', prefix .. 'kind:' .. kind .. ':inflight', id)
redis.call('ZADD', KEYS[4], now, id)
redis.call('ZADD', prefix .. 'kind:' .. kind .. ':dead', now, id)
redis.call('HSET', KEYS[1], 'state', 'dead', 'last_error', err, 'died_at', now)
redis.call('HDEL', KEYS[1], 'lease_token')
return 1

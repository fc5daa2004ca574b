-- GCRA (generic cell rate algorithm) token bucket of one API key, shared by every instance.
-- KEYS[1]  the key's bucket: its theoretical arrival time (TAT), in microseconds
-- ARGV[1]  emission interval in microseconds (1 / requests per second)
-- ARGV[2]  tolerance in microseconds (emission interval x burst)
-- Returns {1, 0} when the request may pass, {0, retry_after_microseconds} when it may not.
-- Time is the Redis server's, so instances with skewed clocks agree.
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now}
end
-- The bucket is full again once now reaches new_tat: keep it no longer than that.
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, 0}

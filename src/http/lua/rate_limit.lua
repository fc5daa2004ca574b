-- GCRA (generic cell rate algorithm) token bucket of one API key, shared by every instance.
-- KEYS[1]  the key's bucket: its theoretical arrival time (TAT), in microseconds
-- ARGV[1]  emission interval in microseconds (1 / requests per second)
-- ARGV[2]  tolerance in microseconds (emission interval x burst)
-- ARGV[3]  most requests to grant at once (an instance spends the rest locally)
-- Returns {granted, 0} with 1 <= granted <= ARGV[3] when requests may pass (as many as the
-- bucket holds, up to ARGV[3]), {0, retry_after_microseconds} when none may.
-- Time is the Redis server's, so instances with skewed clocks agree.
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
-- Requests that fit: each moves TAT on by one interval, and TAT may run at most
-- `tolerance` ahead of now.
local fits = math.floor((now + tolerance - tat) / interval)
if fits < 1 then
  return {0, tat + interval - tolerance - now}
end
local granted = math.min(fits, wanted)
local new_tat = tat + granted * interval
-- The bucket is full again once now reaches new_tat: keep it no longer than that.
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {granted, 0}

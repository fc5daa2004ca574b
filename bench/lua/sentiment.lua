-- POST /api/v1/intercept/sentiment: cancellation reasons across the five actions (the
-- support ones open tickets).
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local reasons = {
  "Too expensive for our budget right now",
  "We found a cheaper alternative that does the same",
  "Our busy season is over, we will be back in spring",
  "Taking a break while the project is on hold",
  "We never managed to set it up, too complicated",
  "Nobody on the team really uses it",
  "The app keeps crashing and support never answered",
  "We lost data after the last update, this is unacceptable",
  "The company is shutting down",
  "We were acquired and the parent company has its own tool",
}
function request()
  return c.post("/api/v1/intercept/sentiment", string.format(
    '{"reason":"%s"%s,"target_id":"cancel-btn"}',
    reasons[math.random(1, #reasons)], c.who_field()))
end

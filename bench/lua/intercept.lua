-- POST /api/v1/intercept for a seeded end user (the ceiling app gets the same requests).
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local triggers = {"click", "exit_intent", "hover"}
function request()
  return c.post("/api/v1/intercept", string.format(
    '{"target_id":"cancel-btn","user_email":"%s","trigger":"%s","mrr_value":%d}',
    c.who(), triggers[math.random(1, 3)], math.random(5, 500)))
end

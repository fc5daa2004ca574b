-- POST /api/v1/intercept for a seeded end user (the ceiling app gets the same requests).
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local triggers = {"click", "exit_intent", "hover"}
function request()
  return c.post("/api/v1/intercept", string.format(
    '{"target_id":"cancel-btn","trigger":"%s"%s%s}', triggers[math.random(1, 3)], c.who_field(),
    c.tokens and "" or string.format(',"mrr_value":%d', math.random(5, 500))))
end

-- POST /api/v1/intercept/outcome: a seeded end user's choice about one of the offers.
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local statuses = {"saved", "abandoned"}
function request()
  return c.post("/api/v1/intercept/outcome", string.format(
    '{"offer_id":%d,"status":"%s","user_email":"%s","mrr_value":%d}',
    c.offer(), statuses[math.random(1, 2)], c.who(), math.random(5, 500)))
end

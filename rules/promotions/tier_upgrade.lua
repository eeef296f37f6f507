-- Tell a customer the moment they move up a tier, with their new benefits.

local benefits = require("loyalty").benefits

promotion "tier_upgrade" {
  description = "Real-time notice when a customer enters silver or gold",
  on = "Segment Entered",
  when = function(e) return e.properties.segment == "silver" or e.properties.segment == "gold" end,
  run = function(e, c, act)
    local tier = e.properties.segment
    local data = { tier = tier, benefits = benefits[tier] }
    if tier == "gold" then
      data.coupon = act:coupon{ percent = 15, expires_in = "30d" }
    end
    act:notify{ channel = "email", template = "tier_upgrade", data = data }
    act:tag("tier_" .. tier)
  end,
}

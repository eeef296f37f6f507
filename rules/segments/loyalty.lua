-- Loyalty tiers by spend over the last 365 days. The tiers are exclusive:
-- moving up exits the lower tier and enters the higher one in the same event,
-- so promotions/tier_upgrade.lua can tell the customer at once.

local tiers = require("loyalty").tiers

segment "bronze" {
  description = "At least one order, less than " .. tiers.silver .. " spent in 365 days",
  when = function(c)
    local spent = c:spent{ within = "365d" }
    return c.orders_count >= 1 and spent < tiers.silver
  end,
}

segment "silver" {
  description = "Spent " .. tiers.silver .. " to " .. tiers.gold .. " in 365 days",
  when = function(c)
    local spent = c:spent{ within = "365d" }
    return spent >= tiers.silver and spent < tiers.gold
  end,
}

segment "gold" {
  description = "Spent " .. tiers.gold .. " or more in 365 days",
  when = function(c) return c:spent{ within = "365d" } >= tiers.gold end,
}

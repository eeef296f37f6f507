-- Shared loyalty settings: tier thresholds (in the shop's currency) and the
-- benefits each tier brings. Rules read them with require("loyalty").
return {
  tiers = { silver = 200, gold = 500 },
  benefits = {
    silver = { "free shipping over 30", "birthday gift" },
    gold = { "free shipping", "15% welcome coupon", "early access to launches" },
  },
}

-- New gold members: the tier notice goes out at once (promotions/tier_upgrade.lua);
-- this journey follows up with a VIP tag and, two days later, their perks.

journey "gold_welcome" {
  description = "Tag new gold members as VIP and follow up with their perks",
  segment = "gold",
  exit_on = { "Segment Exited" },
  steps = {
    tag { "vip", name = "mark_vip" },
    set_trait { "vip_since_tier", "gold", name = "remember_tier" },
    wait { "2d", name = "settle_in" },
    send { channel = "email", template = "gold_perks", name = "perks" },
  },
}

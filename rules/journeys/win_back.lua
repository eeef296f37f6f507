-- Customers who stopped ordering (segment at_risk, kept fresh by the nightly
-- sweep in rules/schedules/) get a note, then an offer if they still stay
-- away. Ordering again is the goal.

journey "win_back" {
  description = "At-risk customers: a note, then 15% off after a week",
  segment = "at_risk",
  goal = "Order Completed",
  reenter_after = "90d",
  steps = {
    send { channel = "email", template = "we_miss_you", name = "note" },
    wait { "7d", name = "give_them_time" },
    send { channel = "email", template = "come_back_offer", coupon = { percent = 15, expires_in = "14d" }, name = "offer" },
  },
}

-- How journeys may message a customer: never at night in the customer's own
-- time zone (trait `timezone`, else the zone below), and not when the
-- customer already had three messages that day (promotions' count too). A
-- journey message that may not go yet is deferred to the first allowed time,
-- never dropped.

messaging {
  timezone = "Europe/Madrid",
  quiet_hours = { from = "21:00", to = "08:00" },
  cap = { max = 3, per = "1d" },
}

-- Time-based segments (at_risk, churned) change with no event at all: every
-- night, re-evaluate every customer's segments. Entries and exits run
-- promotions and journeys (win_back starts from here).

schedule "segment_sweep" {
  description = "Nightly re-evaluation of every customer's segments",
  at = "03:00",
  timezone = "Europe/Madrid",
  sweep = "segments",
}

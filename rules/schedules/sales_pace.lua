-- Every hour: is today selling at the pace of the last seven days? Alert the
-- sales team when today's revenue so far is under 70% of the same hours'
-- average over the previous week.

local DAY = duration("1d")

schedule "sales_pace" {
  description = "Hourly: today's revenue so far against the 7-day average at this hour",
  every = "1h",
  run = function(ctx, act)
    local midnight = ctx.now - ctx.now % DAY
    local today = ctx:revenue{ from = midnight, to = ctx.now }
    local past = 0
    for d = 1, 7 do
      past = past + ctx:revenue{ from = midnight - d * DAY, to = ctx.now - d * DAY }
    end
    local forecast = past / 7
    if forecast >= 500 and today < forecast * 0.7 then
      act:alert{ channel = "sales", severity = "warning",
                 message = ("sales behind pace: %.0f so far today against %.0f expected by now"):format(today, forecast),
                 data = { today = today, forecast = forecast } }
    end
  end,
}

-- Every morning: is the month on course for its plan (plugins/sales_plan.lua)?
-- The month's revenue so far, at its pace, projects the month's end; below the
-- plan's alert share, the sales team hears of it with the figures.

local plan = require("sales_plan")
local DAY = duration("1d")

-- Days in a month (UTC), leap years included.
local function days_in(year, month)
  local days = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if month == 2 and (year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0)) then return 29 end
  return days[month]
end

schedule "sales_plan" {
  description = "Daily at 09:00: the month's revenue at its pace so far against the monthly plan",
  at = "09:00",
  run = function(ctx, act)
    local date = os.date("!*t", ctx.now // 1000)
    local target = plan.monthly[("%04d-%02d"):format(date.year, date.month)]
    if target == nil or date.day <= plan.quiet_days then return end
    local month_start = ctx.now - ctx.now % DAY - (date.day - 1) * DAY
    local elapsed = (ctx.now - month_start) / DAY
    local so_far = ctx:revenue{ from = month_start, to = ctx.now }
    local projected = so_far / elapsed * days_in(date.year, date.month)
    if projected < target * plan.alert_below then
      act:alert{ channel = "sales", severity = "warning",
                 message = ("sales behind plan: %.0f so far this month, on course for %.0f against a plan of %.0f (%.0f%%)")
                   :format(so_far, projected, target, projected / target * 100),
                 data = { month = ("%04d-%02d"):format(date.year, date.month), so_far = so_far,
                          projected = projected, plan = target } }
    end
  end,
}

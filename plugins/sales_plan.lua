-- The revenue plan the sales team agreed on, per calendar month (UTC), in the
-- shop's currency. rules/schedules/sales_plan.lua projects each month's
-- revenue from its pace so far and alerts when it falls short of the plan.
-- A month without a figure has no plan, and no alert.
return {
  alert_below = 0.9,          -- alert when the month is on course for less than 90% of its plan
  quiet_days = 5,             -- too early in a month to project: no alert on its first 5 days
  monthly = {
    ["2026-01"] = 8000,
    ["2026-02"] = 9000,
    ["2026-03"] = 9000,
    ["2026-04"] = 9500,
    ["2026-05"] = 9500,
    ["2026-06"] = 10000,
  },
}

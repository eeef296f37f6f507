-- Scenario tests for the monthly plan alert (`crescent test`); January's plan is 8000.

local function plan_alerts() return sent("schedule:sales_plan") end

scenario("a month on course for less than 90% of its plan alerts the sales team each morning", function()
  identify("ana", {})
  order("ana", "a1", 900)
  advance("5d")                     -- 2026-01-06 00:00 UTC
  expect(#plan_alerts()):to_be(0)  -- no projection on a month's first five days
  advance("10h")                    -- past 09:00 Madrid on the 6th: on course for about 5,200 of 8,000
  local alerts = plan_alerts()
  expect(#alerts):to_be(1)
  expect(alerts[1].channel):to_be("sales")
  expect(alerts[1].message):to_contain("sales behind plan: 900 so far this month")
  expect(alerts[1].message):to_contain("against a plan of 8000")
  expect(alerts[1].data.month):to_be("2026-01")
  advance("1d")
  expect(#plan_alerts()):to_be(2)
end)

scenario("a month on course for its plan raises nothing", function()
  identify("bo", {})
  order("bo", "b1", 1500)
  order("bo", "b2", 1400)          -- 2,900 by the 6th: on course for about 16,800
  advance("5d10h")
  expect(#plan_alerts()):to_be(0)
end)

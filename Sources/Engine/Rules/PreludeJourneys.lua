-- Crescent's rule language, continued: journeys, their steps, and the host
-- entry points for branches and schedules. Appended to Prelude.lua as one chunk
-- (RuleRuntime.preludeSource), so it sees that file's locals.

-- Journeys -------------------------------------------------------------------
-- Step constructors return plain tables marked as steps; `journey` flattens
-- nested branches into one list of named steps (jumps by name), so a new
-- version can take over instances in flight by step name.

local STEP = {}
local STEP_FIELDS = {
  wait = { name = true, [1] = true },
  wait_until = { name = true, [1] = true, event = true, timeout = true, on_timeout = true },
  send = { name = true, channel = true, template = true, data = true, coupon = true },
  coupon = { name = true, percent = true, amount = true, expires_in = true, prefix = true },
  set_trait = { name = true, [1] = true, [2] = true },
  tag = { name = true, [1] = true },
  untag = { name = true, [1] = true },
  exit = { name = true, [1] = true, reason = true },
  branch = { name = true, when = true, otherwise = true },
}

local function make_step(kind, spec, level)
  if type(spec) ~= "table" then spec = { spec } end
  local allowed = STEP_FIELDS[kind]
  for key in pairs(spec) do
    local positional = kind == "branch" and math.type(key) == "integer"
    if not allowed[key] and not positional then
      error(("%s step: unknown field '%s'"):format(kind, tostring(key)), level)
    end
  end
  if spec.name ~= nil and (type(spec.name) ~= "string" or spec.name == "" or spec.name:find("^%$")) then
    error(("%s step: name must be a non-empty string not starting with '$'"):format(kind), level)
  end
  local step = { step = kind }
  for key, value in pairs(spec) do step[key] = value end
  return setmetatable(step, STEP)
end

function wait(spec)
  local step = make_step("wait", spec, 3)
  local ok, ms = pcall(duration, step[1])
  if step[1] == nil then error("wait needs a duration: wait \"1h\"", 2) end
  if not ok then error("wait: " .. tostring(ms), 2) end
  step.duration = ms; step[1] = nil
  return step
end

function wait_until(spec)
  local step = make_step("wait_until", spec, 3)
  step.event = step.event or step[1]; step[1] = nil
  if type(step.event) ~= "string" then error("wait_until needs an event: wait_until { \"Checkout Started\", timeout = \"1d\" }", 2) end
  if step.timeout == nil then error("wait_until needs a timeout: wait_until { \"" .. step.event .. "\", timeout = \"1d\" }", 2) end
  local ok, ms = pcall(duration, step.timeout)
  if not ok then error(("wait_until: invalid timeout %q"):format(tostring(step.timeout)), 2) end
  step.timeout = ms
  if step.on_timeout ~= nil and type(step.on_timeout) ~= "string" then error("wait_until: on_timeout must be a step name", 2) end
  return step
end

function send(spec)
  local step = make_step("send", spec, 3)
  if type(step.template) ~= "string" then error("send needs { channel = \"email\", template = \"name\" }", 2) end
  step.channel = step.channel or "email"
  if step.data ~= nil and type(step.data) ~= "table" and type(step.data) ~= "function" then
    error("send: data must be a table or a function(c, j, e) returning one", 2)
  end
  if step.coupon ~= nil and type(step.coupon) ~= "table" then error("send: coupon must be a table like { percent = 10 }", 2) end
  if step.coupon and step.coupon.expires_in then step.coupon.expires_in = tostring(step.coupon.expires_in) end
  return step
end
notify = send

function coupon(spec)
  local step = make_step("coupon", spec or {}, 3)
  if step.expires_in then step.expires_in = tostring(step.expires_in) end
  return step
end

function set_trait(spec)
  local step = make_step("set_trait", spec, 3)
  if type(step[1]) ~= "string" then error("set_trait needs a trait and a value: set_trait { \"vip\", true }", 2) end
  step.trait, step.value, step[1], step[2] = step[1], step[2], nil, nil
  return step
end

local function tagging(kind)
  return function(spec)
    local step = make_step(kind, spec, 3)
    if type(step[1]) ~= "string" then error(kind .. " needs a tag: " .. kind .. " \"name\"", 2) end
    step.tag, step[1] = step[1], nil
    return step
  end
end
tag = tagging("tag")
untag = tagging("untag")

function exit(spec)
  local step = make_step("exit", spec or {}, 3)
  step.reason = tostring(step.reason or step[1] or "exit step"); step[1] = nil
  return step
end

function branch(spec)
  if type(spec) ~= "table" then error("branch needs { when = function(c, j) ... end, steps... }", 2) end
  local step = make_step("branch", spec, 3)
  if type(step.when) ~= "function" then error("branch needs when = function(c, j) ... end", 2) end
  if step.otherwise ~= nil and type(step.otherwise) ~= "table" then error("branch: otherwise must be a list of steps", 2) end
  return step
end

local function flatten(list, out, counts, journey_name)
  for index, step in ipairs(list) do
    if getmetatable(step) ~= STEP then
      error(("journey %q: step %d is not a step (use wait, wait_until, send, coupon, set_trait, tag, untag, branch, exit)")
        :format(journey_name, index), 0)
    end
    local kind = step.step
    counts[kind] = (counts[kind] or 0) + 1
    local flat = {}
    for key, value in pairs(step) do
      if math.type(key) ~= "integer" and key ~= "otherwise" then flat[key] = value end
    end
    flat.name = flat.name or (kind .. "_" .. counts[kind])
    out[#out + 1] = flat
    if kind == "branch" then
      local inner = {}
      for i = 1, #step do inner[i] = step[i] end
      flatten(inner, out, counts, journey_name)
      if step.otherwise then
        local jump = { step = "jump", name = flat.name .. "/end" }
        out[#out + 1] = jump
        flat.else_at = #out + 1
        flatten(step.otherwise, out, counts, journey_name)
        jump.to_at = #out + 1
      else
        flat.else_at = #out + 1
      end
    end
  end
end

function journey(name)
  if type(name) ~= "string" or name == "" then error("journey needs a name: journey \"name\" { ... }", 2) end
  return function(spec)
    if type(spec) ~= "table" then error(("journey %q needs a table"):format(name), 2) end
    if type(spec.steps) ~= "table" or #spec.steps == 0 then
      error(("journey %q needs steps = { ... } with at least one step"):format(name), 2)
    end
    local ok, problem = pcall(function()
      local flat = {}
      flatten(spec.steps, flat, {}, name)
      local names = {}
      for i, step in ipairs(flat) do
        if names[step.name] then error(("journey %q: two steps are named %q"):format(name, step.name), 0) end
        names[step.name] = i
      end
      local function name_at(i) return flat[i] and flat[i].name or "$end" end
      for _, step in ipairs(flat) do
        if step.else_at then step.else_to = name_at(step.else_at); step.else_at = nil end
        if step.to_at then step.to = name_at(step.to_at); step.to_at = nil end
        if step.when then
          functions[#functions + 1] = step.when
          step.when = { __function = #functions }
        end
        if type(step.data) == "function" then
          functions[#functions + 1] = step.data
          step.data = nil
          step.data_function = { __function = #functions }
        end
        if step.on_timeout and not names[step.on_timeout] then
          error(("journey %q: on_timeout names no step: %q"):format(name, step.on_timeout), 0)
        end
      end
      spec.steps = flat
    end)
    if not ok then error(problem, 2) end
    if spec.reenter_after ~= nil then
      local valid, ms = pcall(duration, spec.reenter_after)
      if not valid then error(("journey %q: invalid reenter_after %q"):format(name, tostring(spec.reenter_after)), 2) end
      spec.reenter_after = ms
    end
    if spec.on == nil and spec.segment == nil then
      error(("journey %q needs a trigger: on = \"Event Name\" or segment = \"name\""):format(name), 2)
    end
    register("journey", name, spec)
  end
end

-- Journeys and schedules ------------------------------------------------------

--- A branch condition: when(c, j, e) with the journey instance `j`
--- ({ journey, key, step, entered_at, vars }) and the event that woke it.
function host_branch(id, instance)
  return functions[id](C, instance, E) and true or false
end

--- A send step's data function: data(c, j, e), its answer a table or nil.
function host_step_data(id, instance)
  local data = functions[id](C, instance, E)
  if data ~= nil and type(data) ~= "table" then
    error(("data must return a table, not a %s"):format(type(data)), 0)
  end
  return data
end

-- The context given to schedules.
local ScheduleContext = {}
ScheduleContext.__index = ScheduleContext

local function span(options)
  options = options or {}
  local to = options.to or host_now()
  local from = options.from
  if from == nil then from = to - duration(options.within or "1d") end
  return from, to
end

--- Revenue of completed orders in a span: ctx:revenue{ within = "1d" } or { from = t1, to = t2 }.
function ScheduleContext:revenue(options)
  local from, to = span(options)
  local revenue = host_sales(from, to)
  return revenue
end

--- Completed orders in a span, same options as revenue.
function ScheduleContext:orders(options)
  local from, to = span(options)
  local _, count = host_sales(from, to)
  return count
end

function host_schedule(id, seed, name)
  local act = setmetatable({ actions = {}, coupons = 0, seed = seed }, Act)
  local ctx = setmetatable({ now = host_now(), schedule = name }, ScheduleContext)
  functions[id](ctx, act)
  return act.actions
end

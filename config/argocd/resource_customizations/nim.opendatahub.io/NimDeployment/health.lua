-- Argo CD health check for nim.opendatahub.io/NimDeployment.
-- Progressing until the operator has seen the current generation; then Degraded when the
-- Degraded condition is True (a refused key, a missing model, a conflict: the message says
-- which), Suspended when the operator says so (Ready reason Suspended, from spec.suspend, or Idle,
-- from spec.idleShutdown), Healthy
-- when Ready is True, Progressing otherwise.
local hs = {}

local function condition(conditions, type)
  for _, c in ipairs(conditions or {}) do
    if c.type == type then return c end
  end
  return nil
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = obj.status.conditions
local degraded = condition(conditions, "Degraded")
local ready = condition(conditions, "Ready")
local progressing = condition(conditions, "Progressing")

if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message or degraded.reason or "Degraded"
  return hs
end
if (ready ~= nil and (ready.reason == "Suspended" or ready.reason == "Idle")) or (obj.spec ~= nil and obj.spec.suspend == true) then
  hs.status = "Suspended"
  hs.message = (ready and ready.message) or "Suspended"
  return hs
end
if ready ~= nil and ready.status == "True" and (progressing == nil or progressing.status ~= "True") then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
hs.status = "Progressing"
hs.message = (progressing and progressing.message) or (ready and ready.message) or "Waiting for the deployment to become ready"
return hs

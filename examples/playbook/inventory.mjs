// The simulated inventory: N hosts (default 50) named host-01 … host-50, dealt round-robin
// into the groups web, db and cache, each with a few variables. bench/python/playbook.py
// builds the same inventory; keep the two in step.
export const GROUPS = ["web", "db", "cache"];

const GROUP_VARS = {
  web: { http_port: 8080, workers: 4 },
  db: { db_port: 5432, workers: 2 },
  cache: { cache_mb: 512, workers: 1 },
};

/** { hosts: [{ name, vars }], groups: { all: [names], web: [...], ... } } */
export function makeInventory(count = 50) {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`the inventory needs at least one host; got ${count}`);
  const width = Math.max(2, String(count).length);
  const hosts = [];
  const groups = { all: [], ...Object.fromEntries(GROUPS.map((g) => [g, []])) };
  for (let i = 1; i <= count; i++) {
    const name = `host-${String(i).padStart(width, "0")}`;
    const group = GROUPS[(i - 1) % GROUPS.length];
    hosts.push({
      name,
      vars: {
        ...GROUP_VARS[group],
        inventory_hostname: name,
        host_index: i,
        group_names: [group],
        datacenter: i % 2 === 1 ? "east" : "west",
      },
    });
    groups.all.push(name);
    groups[group].push(name);
  }
  return { hosts, groups };
}

/** The hosts a play's `hosts:` pattern names: all, a group, a host, or a list / comma-separated mix. */
export function selectHosts(inventory, pattern) {
  const parts = (Array.isArray(pattern) ? pattern : String(pattern).split(/[,:]/)).map((p) => String(p).trim()).filter(Boolean);
  const wanted = new Set();
  for (const part of parts) {
    if (inventory.groups[part]) for (const name of inventory.groups[part]) wanted.add(name);
    else if (inventory.hosts.some((h) => h.name === part)) wanted.add(part);
  }
  return inventory.hosts.filter((h) => wanted.has(h.name));
}

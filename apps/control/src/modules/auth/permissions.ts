/**
 * The catalogue of operator permissions, `<area>.<action>`. A `/v1/` route names one of these in
 * `config: { permission }`; a name missing here fails the boot. Adding a permission is one line
 * below; the roles pick it up by the rules in ROLE_RULES (every `.read` goes to every role).
 */
export const PERMISSIONS = {
  'tenants.read': 'see tenants and their limits and modules',
  'tenants.write': 'create, change and delete tenants',
  'instances.read': 'see instances, their channels and credentials (described, never shown)',
  'instances.write': 'create, change and delete instances',
  'instances.pause': 'pause and resume an instance',
  'instances.command': 'send commands to an instance (backup, health)',
  'instances.password-reset': "get a single-use password reset link for an instance's user (shown once or e-mailed)",
  'channels.read': 'see Meta channels and the instance each belongs to',
  'channels.write': 'connect, move and remove Meta channels',
  'flags.read': 'see feature flags',
  'flags.write': 'change feature flags',
  'secrets.read': 'list secret references (name, fingerprint, last 4; never a value)',
  'secrets.write': 'set, rotate and delete secrets in the engine',
  'credentials.issue': "create and rotate an instance's engine credentials (shown once)",
  'alerts.read': 'see alerts',
  'alerts.acknowledge': 'acknowledge and resolve alerts',
  'audit.read': 'read and verify the audit log',
  'operators.read': 'see operator accounts',
  'operators.manage': 'create, change and disable operator accounts (owners only by owners)',
  'operators.owners': 'create, promote, change or disable an owner',
  'operators.second-factor': "reset another operator's second factor (a lost device); owners only",
  'deliveries.read': 'see deliveries and dead letters',
  'deliveries.replay': 'replay failed or dead-lettered deliveries',
  'monitoring.read': 'see health, metrics and the state of every component',
  'billing.read': 'see plans, subscriptions, invoices and payments',
  'billing.write': 'change plans and subscriptions, issue invoices, record payments',
  'crm.read': 'see companies, contacts, deals, notes and conversations',
  'crm.write': 'change companies, contacts, deals, notes and reply to conversations',
  'publishing.read': "see the posts on the hub's own Facebook Page and Instagram account",
  'publishing.write': "publish and cancel posts on the hub's own Facebook Page and Instagram account",
  'marketing.read': "see the broadcasts on the hub's own WhatsApp numbers",
  'marketing.write': "broadcast on the hub's own WhatsApp numbers to a list or a CRM segment, and pause or cancel",
  'system.read': 'see the system status: versions, database, queues',
  'backups.read': "see control's backups and their verification",
  'backups.create': "take a backup of control's database now",
  'backups.keys': 'confirm that the backup key and the engine keyring have a copy outside the machine',
  'backups.restore': "restore a backup into a plane's live database (the plane restarts)",
} as const satisfies Record<string, string>;

export type Permission = keyof typeof PERMISSIONS;

export const ROLES = ['owner', 'admin', 'support', 'billing', 'read-only'] as const;
export type Role = (typeof ROLES)[number];

const ALL = Object.keys(PERMISSIONS) as Permission[];
const READS = ALL.filter((p) => p.endsWith('.read'));

/** What only owners do: manage owners, and take away another operator's second factor. */
const OWNERS_ONLY: readonly Permission[] = ['operators.owners', 'operators.second-factor'];

/** Reads that reveal how the business's secrets are kept; the read-only role goes without them. */
const SECRETISH_READS: readonly Permission[] = ['secrets.read'];

/** Each role's permissions, from rules rather than lists, so a new permission needs no edit here. */
const ROLE_RULES: Record<Role, readonly Permission[]> = {
  owner: ALL,
  admin: ALL.filter((p) => !OWNERS_ONLY.includes(p)),
  support: [
    ...READS,
    'instances.pause',
    'instances.command',
    'instances.password-reset',
    'alerts.acknowledge',
    'deliveries.replay',
    'crm.write',
  ],
  billing: [...READS, 'billing.write', 'crm.write'],
  'read-only': READS.filter((p) => !SECRETISH_READS.includes(p)),
};

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(ROLE_RULES.owner),
  admin: new Set(ROLE_RULES.admin),
  support: new Set(ROLE_RULES.support),
  billing: new Set(ROLE_RULES.billing),
  'read-only': new Set(ROLE_RULES['read-only']),
};

export function isPermission(name: unknown): name is Permission {
  return typeof name === 'string' && Object.hasOwn(PERMISSIONS, name);
}

export function isRole(name: unknown): name is Role {
  return typeof name === 'string' && (ROLES as readonly string[]).includes(name);
}

export function roleHas(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"source" text NOT NULL,
	"type" text NOT NULL,
	"severity" text NOT NULL,
	"state" text NOT NULL,
	"tenant_id" text,
	"instance_id" text,
	"message" text NOT NULL,
	"details" jsonb NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	"count" integer NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"notified_state" text,
	"notified_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "delivery_stats" (
	"instance_id" text NOT NULL,
	"from_at" timestamp with time zone NOT NULL,
	"to_at" timestamp with time zone NOT NULL,
	"tenant_id" text,
	"delivered" integer NOT NULL,
	"failed" integer NOT NULL,
	"retried" integer NOT NULL,
	"dead_lettered" integer NOT NULL,
	"latency_p50" double precision,
	"latency_p95" double precision,
	"latency_p99" double precision,
	CONSTRAINT "delivery_stats_instance_id_from_at_pk" PRIMARY KEY("instance_id","from_at")
);
--> statement-breakpoint
CREATE TABLE "received_reports" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_counters" (
	"period" text NOT NULL,
	"tenant_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"channel" text NOT NULL,
	"metric" text NOT NULL,
	"value" bigint NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	CONSTRAINT "usage_counters_period_tenant_id_instance_id_channel_metric_pk" PRIMARY KEY("period","tenant_id","instance_id","channel","metric")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" text,
	"actor_label" text,
	"action" text NOT NULL,
	"target_type" text,
	"target_id" text,
	"before" jsonb,
	"after" jsonb,
	"request_id" text,
	"ip" text,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_log_seq_unique" UNIQUE("seq")
);
--> statement-breakpoint
CREATE TABLE "login_failures" (
	"id" uuid PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"ip" text NOT NULL,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operator_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"operator_id" text NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ip" text,
	"user_agent" text
);
--> statement-breakpoint
CREATE TABLE "operators" (
	"id" text PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"password_hash" text NOT NULL,
	"disabled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"last_login_at" timestamp with time zone,
	"password_changed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "operators_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "config_version" (
	"id" integer PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL,
	"changed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_flags" (
	"key" text PRIMARY KEY NOT NULL,
	"enabled" boolean NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "hub_events" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"channel_kind" text NOT NULL,
	"channel_id" text NOT NULL,
	"conversation_id" text,
	"event" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instance_availability" (
	"instance_id" text PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"last_ok_at" timestamp with time zone,
	"failing_since" timestamp with time zone,
	"consecutive_failures" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "instance_commands" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"command" text NOT NULL,
	"args" jsonb NOT NULL,
	"state" text NOT NULL,
	"attempts" integer NOT NULL,
	"result" jsonb,
	"error" jsonb,
	"requested_by" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "instance_probes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"ok" boolean NOT NULL,
	"latency_ms" integer NOT NULL,
	"status" text,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "metric_samples" (
	"at" timestamp with time zone NOT NULL,
	"metric" text NOT NULL,
	"labels" text NOT NULL,
	"value" double precision NOT NULL
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"platform" text NOT NULL,
	"channel_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text,
	"waba_id" text,
	"business_id" text,
	"page_id" text,
	"meta_app" text NOT NULL,
	"connection_state" text NOT NULL,
	"connection_error" text,
	"connection_checked_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "channels_platform_channel_id_pk" PRIMARY KEY("platform","channel_id")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"webhook_url" text,
	"control_url" text,
	"delivery_format" text NOT NULL,
	"state" text NOT NULL,
	"state_reason" text,
	"state_changed_at" timestamp with time zone NOT NULL,
	"paused_with_tenant" boolean DEFAULT false NOT NULL,
	"version" text,
	"endpoint_revision" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"modules" jsonb NOT NULL,
	"limits" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "operator_sessions" ADD CONSTRAINT "operator_sessions_operator_id_operators_id_fk" FOREIGN KEY ("operator_id") REFERENCES "operators"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_key_idx" ON "alerts" USING btree ("key");--> statement-breakpoint
CREATE INDEX "alerts_state_idx" ON "alerts" USING btree ("state","last_at");--> statement-breakpoint
CREATE INDEX "delivery_stats_from_idx" ON "delivery_stats" USING btree ("from_at");--> statement-breakpoint
CREATE INDEX "received_reports_at_idx" ON "received_reports" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "usage_counters_tenant_idx" ON "usage_counters" USING btree ("tenant_id","period");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_action_idx" ON "audit_log" USING btree ("action");--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "audit_log" USING btree ("target_type","target_id");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor_id");--> statement-breakpoint
CREATE INDEX "login_failures_email_idx" ON "login_failures" USING btree ("email","at");--> statement-breakpoint
CREATE INDEX "login_failures_ip_idx" ON "login_failures" USING btree ("ip","at");--> statement-breakpoint
CREATE INDEX "operator_sessions_operator_idx" ON "operator_sessions" USING btree ("operator_id");--> statement-breakpoint
CREATE INDEX "operator_sessions_expires_idx" ON "operator_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "instance_commands_instance_idx" ON "instance_commands" USING btree ("instance_id","created_at");--> statement-breakpoint
CREATE INDEX "instance_probes_instance_at_idx" ON "instance_probes" USING btree ("instance_id","at");--> statement-breakpoint
CREATE INDEX "instance_probes_at_idx" ON "instance_probes" USING btree ("at");--> statement-breakpoint
CREATE INDEX "metric_samples_metric_idx" ON "metric_samples" USING btree ("metric","at");--> statement-breakpoint
CREATE INDEX "metric_samples_at_idx" ON "metric_samples" USING btree ("at");--> statement-breakpoint
CREATE INDEX "channels_instance_idx" ON "channels" USING btree ("instance_id");
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
CREATE TABLE "metric_samples" (
	"at" timestamp with time zone NOT NULL,
	"metric" text NOT NULL,
	"labels" text NOT NULL,
	"value" double precision NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_key_idx" ON "alerts" USING btree ("key");--> statement-breakpoint
CREATE INDEX "alerts_state_idx" ON "alerts" USING btree ("state","last_at");--> statement-breakpoint
CREATE INDEX "delivery_stats_from_idx" ON "delivery_stats" USING btree ("from_at");--> statement-breakpoint
CREATE INDEX "received_reports_at_idx" ON "received_reports" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "usage_counters_tenant_idx" ON "usage_counters" USING btree ("tenant_id","period");--> statement-breakpoint
CREATE INDEX "metric_samples_metric_idx" ON "metric_samples" USING btree ("metric","at");--> statement-breakpoint
CREATE INDEX "metric_samples_at_idx" ON "metric_samples" USING btree ("at");
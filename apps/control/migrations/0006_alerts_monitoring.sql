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
CREATE INDEX "instance_commands_instance_idx" ON "instance_commands" USING btree ("instance_id","created_at");--> statement-breakpoint
CREATE INDEX "instance_probes_instance_at_idx" ON "instance_probes" USING btree ("instance_id","at");--> statement-breakpoint
CREATE INDEX "instance_probes_at_idx" ON "instance_probes" USING btree ("at");
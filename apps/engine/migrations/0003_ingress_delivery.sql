CREATE TABLE "conversation_sequences" (
	"instance_id" text NOT NULL,
	"conversation" text NOT NULL,
	"last_seq" integer NOT NULL,
	CONSTRAINT "conversation_sequences_instance_id_conversation_pk" PRIMARY KEY("instance_id","conversation")
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"instance_id" text NOT NULL,
	"conversation" text NOT NULL,
	"seq" integer NOT NULL,
	"state" text NOT NULL,
	"attempts" integer NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"payload" jsonb NOT NULL,
	"trace_parent" text NOT NULL,
	"last_status" integer,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"delivered_at" timestamp with time zone,
	"dead_at" timestamp with time zone,
	CONSTRAINT "deliveries_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "delivery_attempts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"delivery_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"outcome" text NOT NULL,
	"status" integer,
	"duration_ms" integer NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "endpoint_breakers" (
	"instance_id" text PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"consecutive_failures" integer NOT NULL,
	"opened_at" timestamp with time zone,
	"probe_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "engine_alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"instance_id" text,
	"detail" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inbound_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"receipt_id" uuid NOT NULL,
	"dedup_key" text NOT NULL,
	"type" text NOT NULL,
	"platform" text NOT NULL,
	"channel_id" text,
	"business_account_id" text,
	"conversation_key" text,
	"route_state" text NOT NULL,
	"instance_id" text,
	"tenant_id" text,
	"trace_parent" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"data" jsonb NOT NULL,
	"raw" jsonb NOT NULL,
	CONSTRAINT "inbound_events_dedup_key_unique" UNIQUE("dedup_key")
);
--> statement-breakpoint
CREATE TABLE "webhook_receipts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"app" text NOT NULL,
	"body" text NOT NULL,
	"event_count" integer NOT NULL,
	"new_event_count" integer NOT NULL,
	"trace_parent" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "channel_routes" (
	"platform" text NOT NULL,
	"channel_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "channel_routes_platform_channel_id_pk" PRIMARY KEY("platform","channel_id")
);
--> statement-breakpoint
CREATE TABLE "instance_routes" (
	"instance_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"webhook_url" text NOT NULL,
	"delivery_format" text NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "channel_routes" ADD CONSTRAINT "channel_routes_instance_id_instance_routes_instance_id_fk" FOREIGN KEY ("instance_id") REFERENCES "instance_routes"("instance_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_conversation_seq_idx" ON "deliveries" USING btree ("instance_id","conversation","seq");--> statement-breakpoint
CREATE INDEX "deliveries_pending_idx" ON "deliveries" USING btree ("instance_id","conversation","seq") WHERE state = 'pending';--> statement-breakpoint
CREATE INDEX "deliveries_dead_idx" ON "deliveries" USING btree ("instance_id","dead_at") WHERE state = 'dead';--> statement-breakpoint
CREATE INDEX "delivery_attempts_delivery_idx" ON "delivery_attempts" USING btree ("delivery_id");--> statement-breakpoint
CREATE INDEX "inbound_events_unrouted_idx" ON "inbound_events" USING btree ("platform","channel_id") WHERE route_state = 'unrouted';--> statement-breakpoint
CREATE INDEX "inbound_events_instance_idx" ON "inbound_events" USING btree ("instance_id","received_at");
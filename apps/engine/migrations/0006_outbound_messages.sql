CREATE TABLE "outbound_message_events" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "outbound_message_events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"message_id" uuid NOT NULL,
	"state" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"attempt" integer,
	"error" jsonb,
	"is_outcome_unknown" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbound_messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"channel" text NOT NULL,
	"recipient" text NOT NULL,
	"priority" text NOT NULL,
	"request" jsonb NOT NULL,
	"state" text NOT NULL,
	"meta_message_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"idempotency_key" text,
	"request_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "outbound_message_events_message_idx" ON "outbound_message_events" USING btree ("message_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "outbound_messages_idempotency_idx" ON "outbound_messages" USING btree ("instance_id","idempotency_key") WHERE idempotency_key is not null;--> statement-breakpoint
CREATE INDEX "outbound_messages_tenant_created_idx" ON "outbound_messages" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "outbound_messages_meta_id_idx" ON "outbound_messages" USING btree ("meta_message_id") WHERE meta_message_id is not null;
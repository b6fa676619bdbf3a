CREATE TABLE "channel_connections" (
	"platform" text NOT NULL,
	"channel_id" text NOT NULL,
	"object_id" text NOT NULL,
	"meta_app" text NOT NULL,
	"state" text NOT NULL,
	"subscribed_at" timestamp with time zone,
	"last_error" jsonb,
	"retry_id" uuid,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "channel_connections_platform_channel_id_pk" PRIMARY KEY("platform","channel_id")
);

CREATE TABLE "secret_refs" (
	"ref" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"version" integer NOT NULL,
	"fingerprint" text NOT NULL,
	"last4" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);

CREATE TABLE "service_tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"caller" text NOT NULL,
	"token_hash" text NOT NULL,
	"last4" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "service_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE INDEX "service_tokens_caller_idx" ON "service_tokens" USING btree ("caller");
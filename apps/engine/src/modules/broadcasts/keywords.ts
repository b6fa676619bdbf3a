/**
 * An inbound text as an opt-out keyword is compared: the whole message, its case, accents and the
 * punctuation or emoji around it aside ("¡Baja!", "stop.", "Cancelar suscripción" all match their
 * keyword). A keyword inside a longer message ("no me des de baja") is not one.
 */
export function keywordOf(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '')
    .replace(/\s+/g, ' ')
    .toUpperCase();
}

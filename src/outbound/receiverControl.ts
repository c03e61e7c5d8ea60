/**
 * What a receiver's answer asks of us beyond success or failure (only read on a non-2xx answer: a 2xx is a
 * success whatever its headers).
 *
 * - `webhook-delivery: abort-message` (the Standard Webhooks / Svix convention): stop retrying this message. The
 *   attempt is recorded, the delivery ends `aborted`, and the endpoint's health counts it neither way.
 * - `410 Gone`: the endpoint is gone for good. Retrying it, or sending it anything else, is wasted work, so the
 *   subscription is disabled with reason `gone` (endpoint.disabled is published) and its open deliveries are
 *   cancelled; the delivery that got the 410 ends failed after that one attempt. Enabling the subscription again
 *   through the API undoes it.
 */
export type ReceiverControl = "abort" | "gone";

export function receiverControl(status: number, headers: Readonly<Record<string, string>>): ReceiverControl | null {
  if (headers["webhook-delivery"]?.trim().toLowerCase() === "abort-message") return "abort";
  if (status === 410) return "gone";
  return null;
}

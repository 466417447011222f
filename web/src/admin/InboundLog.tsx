export function InboundLog(_: { query: URLSearchParams }) {
  return <p>Inbound log</p>;
}

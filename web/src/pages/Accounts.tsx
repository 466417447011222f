export function Accounts(_: { id?: string | undefined; query: URLSearchParams }) {
  return <div class="page">Accounts</div>;
}

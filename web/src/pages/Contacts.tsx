export function Contacts(_: { id?: string | undefined; query: URLSearchParams }) {
  return <div class="page">Contacts</div>;
}

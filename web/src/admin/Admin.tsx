export function Admin(_: { section?: string | undefined; id?: string | undefined; query: URLSearchParams }) {
  return <div class="page">Admin</div>;
}

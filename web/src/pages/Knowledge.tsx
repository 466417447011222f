export function Knowledge(_: { id?: string | undefined; query: URLSearchParams }) {
  return <div class="page">Knowledge</div>;
}

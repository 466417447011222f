export function NewCase(_: { query: URLSearchParams }) {
  return <div class="page">New case</div>;
}

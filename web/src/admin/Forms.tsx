export function Forms(_: { id?: string | undefined }) {
  return <p>Web forms</p>;
}

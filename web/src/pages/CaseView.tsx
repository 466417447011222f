export function CaseView({ caseRef }: { caseRef: string }) {
  return <div class="page">Case {caseRef}</div>;
}

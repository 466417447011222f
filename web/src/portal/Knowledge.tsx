// Help articles: the published, portal-visible ones (the API decides), searchable by title, and
// one article. Article bodies are HTML; the portal shows their text only, never the markup.
import { useEffect, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError, type Schemas } from '../api/client';
import { useDebounced, usePages } from '../hooks';
import { href, navigate } from '../router';
import { ErrorAlert, Loading, TextField, Time } from '../ui/controls';
import { draft } from './NewCase';
import { MoreButton } from './parts';
import { htmlToParagraphs } from './text';

type Article = Schemas['ArticleView'];

export function ArticleList({ query }: { query: URLSearchParams }) {
  const [q, setQ] = useState(query.get('q') ?? '');
  const settled = useDebounced(q.trim(), 300);
  // The search is in the address (#/kb?q=…), so Back returns to it.
  useEffect(() => {
    if (settled !== (query.get('q') ?? '')) navigate(href(['kb'], { q: settled }), true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [settled]);
  const pages = usePages(
    (cursor?: string) =>
      ok(api.GET('/articles', { params: { query: { q: settled || undefined, limit: 25, cursor } } })).then((p) => ({ items: p.items, next: p.next_cursor ?? null })),
    [settled],
  );
  return (
    <>
      <h1 tabIndex={-1}>Help articles</h1>
      <form role="search" class="p-search" onSubmit={(e) => e.preventDefault()}>
        <TextField label="Search articles" type="search" hint="Words from the title." value={q} onValue={setQ} test="portal-kb-search" />
      </form>
      <ErrorAlert error={pages.error} />
      {pages.items === null ? (
        pages.error ? null : <Loading label="Loading articles…" />
      ) : pages.items.length === 0 ? (
        <p class="p-empty">{settled ? `No articles match “${settled}”.` : 'There are no help articles yet.'}</p>
      ) : (
        <ul class="p-articles" aria-label={settled ? `Articles matching ${settled}` : 'All articles'}>
          {pages.items.map((a) => (
            <li key={a.id}>
              <a href={href(['kb', a.id])} data-test="portal-article-row">
                {a.title}
              </a>
              {'updated_at' in a && a.updated_at ? (
                <span class="p-muted">
                  {' '}
                  · updated <Time at={a.updated_at} />
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      <MoreButton pages={pages} />
    </>
  );
}

export function ArticleView({ id }: { id: string }) {
  const [article, setArticle] = useState<Article | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    ok(api.GET('/articles/{article_id}', { params: { path: { article_id: id } } })).then(setArticle, (e) => setError(asApiError(e)));
  }, [id]);
  const back = (
    <p class="p-crumbs">
      <a href="#/kb">Help articles</a>
      {draft.subject ? (
        <>
          {' · '}
          <a href="#/new">Back to your new case</a>
        </>
      ) : null}
    </p>
  );
  // The same first children in every state: the heading focused on arrival stays the same element.
  if (!article) {
    return (
      <article class="p-article">
        {back}
        <h1 tabIndex={-1}>{error?.status === 404 ? 'Article not found' : 'Help article'}</h1>
        {error?.status === 404 ? (
          <p>This article does not exist or is not available.</p>
        ) : error ? (
          <ErrorAlert error={error} />
        ) : (
          <Loading label="Loading the article…" />
        )}
      </article>
    );
  }
  const paragraphs = htmlToParagraphs(article.body);
  return (
    <article class="p-article">
      {back}
      <h1 tabIndex={-1} data-test="portal-article-title">
        {article.title}
      </h1>
      {'updated_at' in article && article.updated_at ? (
        <p class="p-muted">
          Updated <Time at={article.updated_at} />
        </p>
      ) : null}
      <div class="p-article-body" data-test="portal-article-body">
        {paragraphs.length ? paragraphs.map((p, i) => <p key={i}>{p}</p>) : <p class="p-muted">This article is empty.</p>}
      </div>
    </article>
  );
}

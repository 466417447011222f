// System-wide settings.
import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import type { Settings } from '../api/types';
import { splitList } from '../format';
import { useAsync, useSave } from '../hooks';
import { CheckField, ErrorAlert, FormActions, fieldError, Loading, Notice, PageHeader, SelectField, TextArea, TextField } from '../ui/controls';

export function SettingsPage() {
  const loaded = useAsync(() => ok(api.GET('/settings')), []);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (!loaded.data) return <Loading />;
  return <SettingsForm settings={loaded.data} onSaved={(s) => loaded.setData(s)} />;
}

function num(v: number | undefined): string {
  return v === undefined ? '' : String(v);
}

function SettingsForm({ settings, onSaved }: { settings: Settings; onSaved: (s: Settings) => void }) {
  const [mask, setMask] = useState(settings.case_number_mask);
  const [tokenDays, setTokenDays] = useState(num(settings.reply_token_days));
  const [numberInBody, setNumberInBody] = useState(settings.number_in_body ?? false);
  const [junk, setJunk] = useState<string>(settings.junk_policy ?? 'drop');
  const [blacklist, setBlacklist] = useState((settings.blacklist ?? []).join('\n'));
  const [ackCount, setAckCount] = useState(num(settings.ack_limit_count));
  const [ackWindow, setAckWindow] = useState(num(settings.ack_limit_window_minutes));
  const [ackPerHour, setAckPerHour] = useState(num(settings.ack_limit_per_mailbox_per_hour));
  const [maxMb, setMaxMb] = useState(settings.max_message_bytes === undefined ? '' : String(Math.round((settings.max_message_bytes / 1024 / 1024) * 10) / 10));
  const [brandName, setBrandName] = useState(settings.brand?.company_name ?? '');
  const [brandLogo, setBrandLogo] = useState(settings.brand?.logo_url ?? '');
  const [brandColour, setBrandColour] = useState(settings.brand?.accent_colour ?? '');
  const { busy, error, onSubmit } = useSave();
  const [saved, setSaved] = useState(false);
  useEffect(() => setSaved(false), [mask, tokenDays, numberInBody, junk, blacklist, ackCount, ackWindow, ackPerHour, maxMb, brandName, brandLogo, brandColour]);

  const int = (v: string) => (v.trim() === '' ? undefined : Number(v));
  // Merge patch of the brand: an empty logo or colour is removed (null) and the portal uses its
  // defaults; an empty name is left as it was.
  const brandPatch = {
    ...(brandName.trim() ? { company_name: brandName.trim() } : {}),
    logo_url: brandLogo.trim() || null,
    accent_colour: brandColour.trim() || null,
  };
  const submit = onSubmit(async () => {
    const body = {
      case_number_mask: mask,
      reply_token_days: int(tokenDays),
      number_in_body: numberInBody,
      junk_policy: junk as Settings['junk_policy'],
      blacklist: splitList(blacklist),
      ack_limit_count: int(ackCount),
      ack_limit_window_minutes: int(ackWindow),
      ack_limit_per_mailbox_per_hour: int(ackPerHour),
      max_message_bytes: maxMb.trim() === '' ? undefined : Math.round(Number(maxMb) * 1024 * 1024),
      brand: brandPatch,
    };
    const s = await ok(api.PATCH('/settings', { body }));
    onSaved(s);
    setSaved(true);
  });
  const shown = ['case_number_mask', 'reply_token_days', 'blacklist', 'ack_limit_count', 'ack_limit_window_minutes', 'ack_limit_per_mailbox_per_hour', 'max_message_bytes', 'junk_policy', 'brand', 'company_name', 'logo_url', 'accent_colour'];
  const colourOk = /^#[0-9a-f]{6}$/i.test(brandColour.trim());
  return (
    <>
      <PageHeader title="Settings" />
      <form onSubmit={submit} data-test="settings-form" aria-label="Settings">
        {saved ? <Notice kind="success" test="settings-saved">Settings saved.</Notice> : null}
        <ErrorAlert error={error} shown={shown} />
        <fieldset class="card">
          <legend>Cases</legend>
          <div class="form-grid">
            <TextField label="Case number format" value={mask} onValue={setMask} hint="{n} is the number, e.g. [#{n}] or SR-{n}." test="settings-mask" error={fieldError(error, 'case_number_mask')} />
          </div>
        </fieldset>
        <fieldset class="card">
          <legend>Inbound mail</legend>
          <div class="form-grid">
            <TextField label="Reply tokens thread mail for (days)" type="number" min={0} value={tokenDays} onValue={setTokenDays} test="settings-token-days" error={fieldError(error, 'reply_token_days')} />
            <TextField label="Largest message imported (MB)" type="number" min={0} value={maxMb} onValue={setMaxMb} hint="Larger mail is kept with its headers only." error={fieldError(error, 'max_message_bytes')} />
            <CheckField class="span-2" label="Also look for a case number in the body of mail" checked={numberInBody} onChecked={setNumberInBody} />
            <TextArea
              label="Blacklist"
              value={blacklist}
              onValue={setBlacklist}
              rows={4}
              hint="One per line: an address (noreply@x.com), a local part (mailer-daemon) or a domain (@spam.example)."
              test="settings-blacklist"
              error={fieldError(error, 'blacklist')}
            />
            <SelectField
              label="Blacklisted and spam mail"
              value={junk}
              onValue={setJunk}
              options={[
                { value: 'drop', label: 'Is dropped (kept raw and logged)' },
                { value: 'junk_case', label: 'Opens a cancelled junk case' },
              ]}
              error={fieldError(error, 'junk_policy')}
            />
          </div>
        </fieldset>
        <fieldset class="card">
          <legend>Acknowledgements</legend>
          <div class="form-grid">
            <TextField label="At most this many per sender…" type="number" min={0} value={ackCount} onValue={setAckCount} error={fieldError(error, 'ack_limit_count')} />
            <TextField label="…within (minutes)" type="number" min={0} value={ackWindow} onValue={setAckWindow} error={fieldError(error, 'ack_limit_window_minutes')} />
            <TextField label="At most per mailbox per hour" type="number" min={0} value={ackPerHour} onValue={setAckPerHour} error={fieldError(error, 'ack_limit_per_mailbox_per_hour')} />
          </div>
        </fieldset>
        <fieldset class="card">
          <legend>Customer portal brand</legend>
          <div class="form-grid">
            <TextField
              label="Company name"
              value={brandName}
              onValue={setBrandName}
              hint="Shown in the portal's header and title."
              test="settings-brand-name"
              error={fieldError(error, 'brand.company_name', 'company_name') ?? (error?.field === 'brand' ? error.message : null)}
            />
            <TextField
              label="Logo URL"
              type="url"
              value={brandLogo}
              onValue={setBrandLogo}
              hint="An https: address of the image, or a data:image/… URL of at most 64 KiB. Empty for none."
              test="settings-brand-logo"
              error={fieldError(error, 'brand.logo_url', 'logo_url')}
            />
            <div class="brand-colour">
              <TextField
                label="Accent colour"
                value={brandColour}
                onValue={setBrandColour}
                placeholder="#1d4ed8"
                hint="As #rrggbb. Text over it is black or white, whichever reads better. Empty for the default."
                test="settings-brand-colour"
                error={fieldError(error, 'brand.accent_colour', 'accent_colour')}
              />
              {colourOk ? <span class="brand-swatch" aria-hidden="true" style={{ background: brandColour.trim() }} /> : null}
            </div>
          </div>
        </fieldset>
        <FormActions busy={busy} save="Save settings" test="settings-save" />
      </form>
    </>
  );
}

import { useId, type ReactNode } from 'react';

interface FieldShellProps {
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  children: (ids: { input: string; describedBy: string | undefined }) => ReactNode;
}

/** Label + control + a reserved message line, so an error appearing never shifts the form. */
function FieldShell({ label, error, hint, children }: FieldShellProps) {
  const id = useId();
  const messageId = `${id}-msg`;
  return (
    <div className={`field ${error ? 'has-error' : ''}`}>
      <label htmlFor={`${id}-input`}>{label}</label>
      {children({ input: `${id}-input`, describedBy: error || hint ? messageId : undefined })}
      <p id={messageId} className={error ? 'field-error' : 'field-hint'} role={error ? 'alert' : undefined}>
        {error ?? hint ?? ''}
      </p>
    </div>
  );
}

interface TextFieldProps {
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
  type?: 'text' | 'password' | 'number' | 'url';
  placeholder?: string;
  autoComplete?: string;
  name?: string;
  /** A control shown right of the input (e.g. Show/Hide for a secret). */
  trailing?: ReactNode;
}

export function TextField({
  label,
  value,
  onChange,
  error,
  hint,
  type = 'text',
  placeholder,
  autoComplete,
  name,
  trailing,
}: TextFieldProps) {
  return (
    <FieldShell label={label} error={error} hint={hint}>
      {({ input, describedBy }) => (
        <div className="input-row">
          <input
            id={input}
            name={name}
            type={type}
            value={value}
            placeholder={placeholder}
            autoComplete={autoComplete ?? 'off'}
            spellCheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={describedBy}
            onChange={(e) => onChange(e.target.value)}
          />
          {trailing}
        </div>
      )}
    </FieldShell>
  );
}

interface SelectFieldProps<V extends string> {
  label: string;
  value: V;
  options: readonly { value: V; label: string }[];
  onChange: (value: V) => void;
  error?: string | undefined;
  hint?: string | undefined;
}

export function SelectField<V extends string>({
  label,
  value,
  options,
  onChange,
  error,
  hint,
}: SelectFieldProps<V>) {
  return (
    <FieldShell label={label} error={error} hint={hint}>
      {({ input, describedBy }) => (
        <select
          id={input}
          value={value}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.value as V)}
        >
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </FieldShell>
  );
}

export function CheckField({
  label,
  checked,
  onChange,
  error,
}: {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  error?: string | undefined;
}) {
  const id = useId();
  return (
    <div className={`field field-check ${error ? 'has-error' : ''}`}>
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <label htmlFor={id}>{label}</label>
      {error ? <p className="field-error">{error}</p> : null}
    </div>
  );
}

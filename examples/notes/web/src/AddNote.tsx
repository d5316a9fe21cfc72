import { useState } from "react";
import { useTyping } from "./typing";

/**
 * The "new note" field. The text is cleared only once the server accepted the note. While
 * it is being written, the other tabs see this one typing.
 */
export function AddNote({ add, disabled }: { add: (text: string) => Promise<boolean>; disabled: boolean }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const typing = useTyping();
  return (
    <form
      className="add"
      onSubmit={async (e) => {
        e.preventDefault();
        typing(false);
        setBusy(true);
        if (await add(text)) setText("");
        setBusy(false);
      }}
    >
      <input
        aria-label="New note"
        placeholder="Write a note…"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          typing(e.target.value !== "");
        }}
      />
      <button type="submit" disabled={disabled || busy || text.trim() === ""}>
        Add
      </button>
    </form>
  );
}

/** Saves `text` as a file named `name` through the browser's download, as every export does. */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  // The download has its bytes once it starts; the URL is let go a while after.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

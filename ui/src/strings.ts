// Every string the UI shows, in one place, ready for translation.
export const strings = {
  appName: "WhatsApp MCP Desktop",
  tagline: "Let your AI assistant read, search and act on your WhatsApp — from this computer only.",
  privacy: "Your messages stay on this computer. Nothing is sent anywhere except to WhatsApp itself.",
  statusHeading: "Status",
  loading: "Starting…",
  messagesStored: (n: number) => `${n.toLocaleString()} messages stored`,
  chatsStored: (n: number) => `${n.toLocaleString()} chats`,
  databaseSize: (bytes: number) => `Database: ${formatBytes(bytes)}`,
  dataFolder: (path: string) => `Data folder: ${path}`,
  notLinked: "No WhatsApp account is linked yet. The setup wizard will guide you through linking.",
  demoBadge: "Demo",
  demoExplained: "Demo mode: a simulated WhatsApp account with generated chats. Nothing here is real and nothing is sent.",
  syncing: (p: { messages: number; chats: number; percent: number | null }) =>
    p.percent === null
      ? `History: ${p.messages.toLocaleString()} messages in ${p.chats.toLocaleString()} chats`
      : `History: ${p.percent}% — ${p.messages.toLocaleString()} messages in ${p.chats.toLocaleString()} chats`,
  errorPrefix: "Something went wrong:",
};

export function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}

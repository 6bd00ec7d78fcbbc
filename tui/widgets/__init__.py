"""Small widgets of the resto app: message bubbles, tool-call cards, the side panels."""

"""Messages: conversations between members of one collaboration."""
